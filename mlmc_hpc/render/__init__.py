"""Rendering for people: progress lines, tables, summaries, Giles' layout and figures.
Computes nothing: it reads results and formats them."""
