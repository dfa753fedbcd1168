#!/bin/bash
 n=$RANDOM
 echo "Generate random number $n."
