"""Reports: render analysis results (review, readouts) as HTML, Markdown and JSON; never query."""
