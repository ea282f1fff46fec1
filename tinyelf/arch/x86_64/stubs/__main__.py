"""Regenerate built.py from the .asm sources (needs keystone)."""
import os

from . import HERE, regenerate

with open(os.path.join(HERE, "built.py"), "w") as f:
    f.write(regenerate())
