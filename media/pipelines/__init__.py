"""ffmpeg pipelines: probe, transcode ladder, images, loudness."""
