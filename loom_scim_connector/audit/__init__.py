"""Offboarding you can prove: reconcile Loom against the identity provider's roster,
offboard people with evidence kept in the store, and the access review built from both.

It reads the synced store and changes Loom only through the existing actions, run by
the host. The one request of its own is offboarding's read before a change (a GET of
the user, through the client's retry policy), which tells someone already deactivated
or deleted apart, so that offboarding twice changes nothing.
"""
