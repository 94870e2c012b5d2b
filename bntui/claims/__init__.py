"""`bntui claims`: the seed notebooks' claims about batch normalization, each put to a
controlled experiment with paired seeds, a 95% interval and a pre-stated decision rule.

The core of it (cells, battery, measures, verdicts, claims file, runner) never imports
Textual; only `bntui.claims.worker.train` imports Keras, inside worker processes.
"""
