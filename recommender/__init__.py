"""Paperboy's application: papers, subscribers, recommender and digests."""
