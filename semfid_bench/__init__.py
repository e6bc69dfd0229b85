"""semfid-bench: did the upscaler keep what the picture means?

Importing the package is cheap: no torch models, transformers or diffusers are imported
until a plugin is used.
"""

__version__ = "0.1.0"
