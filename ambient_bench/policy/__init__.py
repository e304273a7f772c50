"""Training: the noise schedule, the ConditionalUnet1D, the normaliser, the diffusion policy and its
checkpoints, the baseline plug-in API (a data-usage rule), the noise-band sampler and the one training loop.
"""
