"""The registry smfcast ships (observations, series, sources, levers, scenarios, targets), installed
as package data of `smfcast.data`. It is read where no other registry is configured and copied to
the per-user data folder the first time something writes (`smfcast.registry.location`)."""
