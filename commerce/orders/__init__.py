"""Orders: cart, checkout with stock reservation, the order lifecycle, refunds, the split and settlement."""
