"""Filing follow-up: the electronic verification sheet and the MIIT SMS-check step (issue 5)."""
