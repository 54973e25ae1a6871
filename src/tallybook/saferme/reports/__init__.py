"""Reports of a channel with their form values, images and state; reads of reports."""
