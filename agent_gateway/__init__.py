"""Agent gateway: the softphone and supervisor protocols over websockets."""
