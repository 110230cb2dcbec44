"""histo: histograms and ASCII bar charts."""
