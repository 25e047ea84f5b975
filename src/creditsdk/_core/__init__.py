"""Shared by every provider: transport, retries, crypto, masking, identity, consent, config.

Nothing in here names a provider.
"""
