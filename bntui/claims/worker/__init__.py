"""claims/worker"""
