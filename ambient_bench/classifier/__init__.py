"""The annotate stage's tool: a noise-conditioned classifier that picks sigma_min per dataset,
bucket or datapoint (model, training, annotation of a dataset).
"""
