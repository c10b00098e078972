"""paperfeed: a self-hostable daily research-paper feed."""

__version__ = "0.1.0"
