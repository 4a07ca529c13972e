"""A contact-center ACD: call distribution, CTI and live KPIs."""

__version__ = "0.1.0"
