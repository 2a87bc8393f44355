"""Reports: tables, plots and the HTML/Markdown report of a comparison."""
