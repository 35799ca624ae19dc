"""orscene.registration"""
