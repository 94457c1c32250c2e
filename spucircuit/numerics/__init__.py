"""Pure maths on arrays, no circuit types: matrix checks, CG, statistics, OU references, quantisation."""
