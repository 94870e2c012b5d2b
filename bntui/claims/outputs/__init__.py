"""claims/outputs"""
