25234 tokengated 12
25235 tokengated 2
25238 tokengated 1
25239 -qos.overcommit 2
25240 tokengated 3
25241 tokengated 21
