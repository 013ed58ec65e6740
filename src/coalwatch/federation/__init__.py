"""Federation 联网上报: a center forwards what it accepted to its upstream center, which
computes the same figures from the same records."""
