"""Stage 2, circuit -> linear SDE dx = (F x + B u) dt + dW: MNA, closed-form and factored compiles."""
