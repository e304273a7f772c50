"""Built-in baselines, one file each; importing this package registers them by name."""

from . import (  # noqa: F401
    ambient,
    ambient_classifier,
    ambient_locality,
    ambient_loss,
    ambient_soft,
    clean_only,
    corrupt_only,
    cotrain,
    exclusive_bands,
    locality,
)
