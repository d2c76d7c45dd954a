"""Offboarding you can prove: reconcile Loom against the identity provider's roster,
offboard people with evidence kept in the store, and the access review built from both.

It reads the synced store and changes Loom only through the existing actions, run by
the host: nothing here sends a request of its own.
"""
