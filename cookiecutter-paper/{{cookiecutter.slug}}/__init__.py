"""Paper {{ cookiecutter.slug }}: its models (model.py) and recipe (paper.toml).

Trained by `odyssey train {{ cookiecutter.slug }}`."""
