"""Forms of a team: fields with their keys, types and options."""
