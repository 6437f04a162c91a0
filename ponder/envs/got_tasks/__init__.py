"""Graph of Thoughts' tasks (spcl/graph-of-thoughts): sorting, with the official data files and scoring."""
