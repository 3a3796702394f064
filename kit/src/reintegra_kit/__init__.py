"""Reintegra's shared runtime kit: the plumbing every service needs, and nothing of any service's domain."""
