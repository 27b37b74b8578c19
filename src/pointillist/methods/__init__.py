"""Reconstruction and localization methods (COL0RME, and those that follow)."""
