"""tui/widgets/claims"""
