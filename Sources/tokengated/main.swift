print("tokengated: not built yet")
