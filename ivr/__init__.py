"""Caller side: the switch link, IVR flows, surveys and callbacks."""
