"""The pure core: decisions only. Imports nothing but the standard library."""
