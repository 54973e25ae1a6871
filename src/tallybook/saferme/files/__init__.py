"""File attachments: uploaded images, their renditions made with Pillow, and serving them."""
