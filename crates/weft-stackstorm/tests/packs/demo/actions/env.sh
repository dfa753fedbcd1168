#!/bin/sh
echo "greeting=$GREETING pack=$ST2_ACTION_PACK_NAME dir=$(pwd) args=$*"
