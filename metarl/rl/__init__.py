"""Reinforcement-learning pieces of the core: policy, episodes, baseline, advantages, samplers."""
