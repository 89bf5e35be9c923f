"""Catalog: products, SKUs, images; the affiliate marketplace and showcases; video–product links and suggestions."""
