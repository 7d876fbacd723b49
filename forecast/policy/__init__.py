"""Policy levers, scenarios (lever paths that move forecast paths) and policy targets."""
