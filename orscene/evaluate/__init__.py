"""orscene.evaluate"""
