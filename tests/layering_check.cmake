# The one-way dependency rules of STYLE.md 2, checked on the sources' #include lines:
#   actors/    never includes learner/ or sft_dpo/
#   learner/   never includes sft_dpo/ or actors/
#   verifiers/ never includes torch, ATen or c10 (and nothing from core/model)
#   core/      never includes actors/, learner/, sft_dpo/ or tools/; its torch-free half
#              (everything but core/model) never includes torch
#   tools/launch, tools/pipeline, tools/report: torch-free (stages run as child processes; the
#              report reads files), and none of actors/, learner/, sft_dpo/
# Run: cmake -DSOURCE_DIR=<repo> -P tests/layering_check.cmake (ctest does).
set(violations "")
function(check_folder folder pattern why)
  file(GLOB_RECURSE files "${SOURCE_DIR}/${folder}/*.h" "${SOURCE_DIR}/${folder}/*.cpp")
  foreach(f ${files})
    if(ARGN)
      foreach(skip ${ARGN})
        if(f MATCHES "${skip}")
          set(f "")
        endif()
      endforeach()
      if(f STREQUAL "")
        continue()
      endif()
    endif()
    file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"](${pattern})")
    foreach(line ${lines})
      file(RELATIVE_PATH rel "${SOURCE_DIR}" "${f}")
      list(APPEND violations "${rel}: ${line}  (${why})")
    endforeach()
  endforeach()
  set(violations "${violations}" PARENT_SCOPE)
endfunction()

check_folder(actors "learner/|sft_dpo/" "actors depend only on core and verifiers")
check_folder(learner "sft_dpo/|actors/" "learner never depends on sft_dpo or actors")
check_folder(verifiers "torch/|ATen/|c10/|core/model/" "verifiers stay free of LibTorch")
check_folder(core "actors/|learner/|sft_dpo/|tools/" "core is the bottom layer")
check_folder(core "torch/|ATen/|c10/" "rlvr_core is torch-free; only core/model links LibTorch" "/core/model/")
foreach(folder tools/launch tools/pipeline tools/report)
  check_folder(${folder} "torch/|ATen/|c10/|actors/|learner/|sft_dpo/|core/model/"
               "process supervision, the pipeline runner and the report stay torch-free")
endforeach()

if(violations)
  string(REPLACE ";" "\n  " text "${violations}")
  message(FATAL_ERROR "layering violations:\n  ${text}")
endif()
message(STATUS "layering: ok")
