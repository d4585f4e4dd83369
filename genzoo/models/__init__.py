"""Generative models: Linen modules that own parameters and build distributions from them."""
