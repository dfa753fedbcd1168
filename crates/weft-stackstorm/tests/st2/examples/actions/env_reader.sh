#!/bin/bash

echo ${ST2_ACTION_AUTH_TOKEN}
