"""kubefort: Kubernetes security checks with one finding model across every input."""

__version__ = "0.1.0"
