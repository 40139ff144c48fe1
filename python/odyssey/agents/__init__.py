"""LLM-assisted agents (the optional extra ``agents``)."""
