"""One router per resource (SPEC section 9)."""
