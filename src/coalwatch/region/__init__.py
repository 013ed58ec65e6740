"""区域监管: the regulator's views of a region (county / city / province)."""
