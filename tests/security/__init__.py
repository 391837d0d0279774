"""Attack corpora for the security layers (the learner is the attacker)."""
