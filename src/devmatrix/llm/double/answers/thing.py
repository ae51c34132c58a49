"""A small named counter: one reading of a request that says only "make a thing"."""

from dataclasses import dataclass


@dataclass
class Thing:
    """Something with a name that counts how often it was used."""

    name: str
    uses: int = 0

    def use(self) -> int:
        """Count one use; return the new total."""
        self.uses += 1
        return self.uses
