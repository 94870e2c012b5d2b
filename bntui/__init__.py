"""bntui: train a plain MLP and its BatchNormalization twin side by side, live, in a terminal."""

__version__ = "0.1.0"
